// Compile-time constants injected by vite.config.ts (`define`).

/** The app version from package.json, recorded in every run record. */
declare const __APP_VERSION__: string;
