// Launch options for Debian's Chromium, shared by Vitest browser mode, Playwright e2e and the benchmarks.
// Never download a browser: CHROMIUM_PATH or /usr/bin/chromium. --enable-unsafe-webgpu gives a real (software,
// SwiftShader) WebGPU adapter headless; the rest stop background traffic that this offline machine refuses.

export function chromiumLaunchOptions(extraArgs: string[] = [], { webgpu = true } = {}) {
  return {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      ...(webgpu ? ['--enable-unsafe-webgpu'] : ['--disable-gpu']),
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  };
}
