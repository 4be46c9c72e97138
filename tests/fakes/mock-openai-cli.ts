// Command-line entry of the mock OpenAI-compatible server, for Playwright's webServer and manual runs:
//   tsx tests/fakes/mock-openai-cli.ts --port 11435 [--model name] [--findings "pleural effusion,cardiomegaly"]
// Prints `READY <url>` once listening and stops cleanly on SIGTERM/SIGINT. Test-only.

import { parseArgs } from 'node:util';
import { startMockOpenAi } from './mock-openai-server.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    model: { type: 'string' },
    findings: { type: 'string' },
    'strict-model': { type: 'boolean', default: false },
  },
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be an integer between 0 and 65535, got ${values.port}`);
  process.exit(2);
}

const mock = await startMockOpenAi({
  port,
  strictModel: values['strict-model'],
  ...(values.model === undefined ? {} : { model: values.model }),
  ...(values.findings === undefined
    ? {}
    : {
        findings: values.findings
          .split(',')
          .map((phrase) => phrase.trim())
          .filter((phrase) => phrase !== ''),
      }),
});
console.log(`READY ${mock.url}`);

const stop = () => {
  void mock.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
