// Worker entry: exposes the WASM fallback LLM API (llm-fallback.api.ts) over comlink. Nothing else belongs here.
import { expose } from 'comlink';
import { api } from './llm-fallback.api.ts';
expose(api);
