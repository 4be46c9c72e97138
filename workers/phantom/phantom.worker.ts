import * as Comlink from 'comlink';
import { api } from './phantom.api.ts';
Comlink.expose(api);
