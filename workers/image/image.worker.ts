// Entry of the image worker: exposes image.api.ts over comlink, nothing else.
import * as Comlink from 'comlink';
import { api } from './image.api.ts';
Comlink.expose(api);
