// Worker entry for web-llm: its own message protocol (WebWorkerMLCEngineHandler), driven from the main thread by
// WebWorkerMLCEngine in src/lib/engines/webllm-engine.ts. No comlink here: web-llm owns every message.
import { WebWorkerMLCEngineHandler } from '@mlc-ai/web-llm';

const handler = new WebWorkerMLCEngineHandler();
self.onmessage = (message: MessageEvent) => handler.onmessage(message);
