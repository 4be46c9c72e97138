// `npm run diff`: the RadDiff method headless, on two image folders. The work is scripts/lib/diff-cli.ts; this file
// wires it to the process: stdout/stderr, Ctrl-C as cancellation (the partial record is still written), exit code.
//
// Usage (all flags: npm run diff -- --help):
//
//   # offline: concept bank + ranker (no LLM)
//   npm run diff -- --a data/effusion --b data/normal --preset quick --out run.json
//
//   # RadDiff: captioner + proposer LLM on an OpenAI-compatible server (llama.cpp, Ollama, vLLM, OpenAI, …)
//   npm run diff -- --a A --b B --preset raddiff --ranker phantom-clip \
//     --llm-endpoint http://127.0.0.1:11434 --llm-model qwen2.5vl:7b --llm-vision \
//     --vlm-endpoint http://127.0.0.1:11434 --vlm-model qwen2.5vl:7b --out run.json
//
//   # report-guided, fewer rounds, another seed, replies cached in ./cache
//   npm run diff -- --a A --b B --reports reports.csv --preset report-guided --config small.json --seed 7 \
//     --llm-endpoint http://127.0.0.1:8080 --llm-model local --cache ./cache --out run.json
//
// stderr: one progress line per stage or round (--verbose: per caption and reply too). stdout: the last line is a
// JSON summary {"status","runId","out","top":[…],"counts","modelCalls","cacheHits","totalMs","failures","warnings"}.
// Exit codes: 0 done, 1 failed, 2 usage or input error, 130 cancelled. --hash-names writes image names as hashes.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EXIT, runDiffCli } from './lib/diff-cli.ts';

/** Runs the CLI on the process; returns the exit code. A second Ctrl-C quits at once. */
export async function main(argv: string[]): Promise<number> {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(EXIT.cancelled);
    process.stderr.write('diff: cancelling (the partial record will be written; Ctrl-C again to quit now)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    return await runDiffCli(argv, {
      stdout: (line) => process.stdout.write(`${line}\n`),
      stderr: (line) => process.stderr.write(`${line}\n`),
      signal: controller.signal,
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
