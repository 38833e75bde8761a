/** One progress line on stderr (`label NN%`), redrawn in place on a terminal, printed at the end otherwise. */
export function progressLine(label: string, stream: NodeJS.WriteStream = process.stderr) {
  let last = -1;
  return {
    update(done: number, total: number): void {
      const pct = total > 0 ? Math.floor((100 * done) / total) : 0;
      if (pct === last || !stream.isTTY) return;
      last = pct;
      stream.write(`\r${label} ${pct}%`);
    },
    end(): void {
      stream.write(stream.isTTY ? `\r${label} 100%\n` : `${label} done\n`);
    },
  };
}
