// Worker entry: exposes the captioner API (vlm.api.ts) over comlink. Nothing else belongs here.
import { expose } from 'comlink';
import { api } from './vlm.api.ts';
expose(api);
