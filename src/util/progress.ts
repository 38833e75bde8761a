/**
 * One progress line on stderr, redrawn in place on a terminal (`label 42% 85.3 MiB/s`); nothing at all
 * when stderr is not a terminal, so logs and pipes only get the command's result.
 */
export interface ProgressLine {
  update(done: number, total: number): void;
  end(): void;
  /** The work failed: the line is erased, so the error is printed on a line of its own. */
  abandon(): void;
}

const REDRAW_MS = 200;

function rate(bytesPerSecond: number): string {
  const units = ["B/s", "KiB/s", "MiB/s", "GiB/s"];
  let v = bytesPerSecond;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** `bytes`: done/total count bytes, so the line shows a rate too. */
export function progressLine(
  label: string,
  opts: { bytes?: boolean; stream?: NodeJS.WriteStream } = {},
): ProgressLine {
  const stream = opts.stream ?? process.stderr;
  const start = Date.now();
  let lastPct = -1;
  let lastDraw = 0;
  let drawn = false;
  return {
    update(done, total) {
      if (!stream.isTTY) return;
      const pct = total > 0 ? Math.min(100, Math.floor((100 * done) / total)) : 0;
      const now = Date.now();
      if (pct === lastPct && now - lastDraw < REDRAW_MS) return;
      lastPct = pct;
      lastDraw = now;
      const seconds = (now - start) / 1000;
      const speed = opts.bytes && seconds > 0 ? ` ${rate(done / seconds)}` : "";
      stream.write(`\r\x1b[K${label} ${pct}%${speed}`);
      drawn = true;
    },
    end() {
      if (stream.isTTY && drawn) stream.write(`\r\x1b[K${label} 100%\n`);
    },
    abandon() {
      if (stream.isTTY && drawn) stream.write("\r\x1b[K");
    },
  };
}
