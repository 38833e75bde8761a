import { createReadStream } from "node:fs";
import net from "node:net";
import { PcoccError } from "../util/index.js";

const CTRL_C = 0x03;
const DETACH_COUNT = 3;
const DETACH_WINDOW_MS = 2000;

/**
 * pcocc's escape: three Ctrl-C within 2 s of the first one of a series detach. A Ctrl-C later than the
 * window restarts the series at one. The bytes are still sent to the guest.
 */
export class DetachDetector {
  private count = 0;
  private windowStart = 0;

  feed(data: Uint8Array, now: number): boolean {
    for (const b of data) {
      if (b !== CTRL_C) continue;
      if (this.count === 0 || now - this.windowStart > DETACH_WINDOW_MS) {
        this.count = 1;
        this.windowStart = now;
      } else {
        this.count++;
      }
      if (this.count >= DETACH_COUNT) {
        this.count = 0;
        return true;
      }
    }
    return false;
  }
}

export interface AttachStreams {
  input: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  output: NodeJS.WritableStream;
}

/** Attaches a terminal to a VM console socket until the user detaches or the VM side closes. */
export async function attachConsole(
  consoleSocket: string,
  streams: AttachStreams = { input: process.stdin, output: process.stdout },
): Promise<"detached" | "closed"> {
  const sock = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.createConnection(consoleSocket);
    s.once("connect", () => resolve(s));
    s.once("error", (err) =>
      reject(new PcoccError(`unable to connect to the VM console: ${(err as Error).message}`)),
    );
  });
  const { input, output } = streams;
  const raw = input.isTTY === true && typeof input.setRawMode === "function";
  if (raw) input.setRawMode?.(true);
  const detector = new DetachDetector();
  try {
    return await new Promise<"detached" | "closed">((resolve) => {
      const onInput = (chunk: Buffer | string): void => {
        const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
        sock.write(buf);
        if (detector.feed(buf, Date.now())) {
          output.write("\nDetaching ...\n");
          finish("detached");
        }
      };
      const finish = (how: "detached" | "closed"): void => {
        input.off("data", onInput);
        input.pause();
        sock.off("close", onClose);
        sock.end();
        resolve(how);
      };
      const onClose = (): void => {
        output.write("\nConnection closed\n");
        finish("closed");
      };
      sock.on("data", (chunk: Buffer) => output.write(chunk));
      sock.on("error", () => undefined);
      sock.on("close", onClose);
      input.on("data", onInput);
      input.resume();
    });
  } finally {
    if (raw) input.setRawMode?.(false);
  }
}

export async function printConsoleLog(
  logPath: string,
  output: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = createReadStream(logPath);
    s.on("error", (err) => reject(new PcoccError(`unable to read console log ${logPath}: ${err.message}`)));
    s.on("end", () => resolve());
    s.pipe(output, { end: false });
  });
}
