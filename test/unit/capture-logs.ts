/** Capture what the handlers' logger writes to stdout (and keep test output quiet). */
export function captureLogs() {
  const lines: string[] = [];
  let spy: jest.SpyInstance | undefined;
  beforeEach(() => {
    lines.length = 0;
    spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
  });
  afterEach(() => spy?.mockRestore());
  return {
    text: () => lines.join(''),
    entries: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
