// Worker entry: exposes the CLIP API (clip.api.ts) over comlink. Nothing else belongs here.
import { expose } from 'comlink';
import { api } from './clip.api.ts';
expose(api);
