import { createWriteStream, type WriteStream } from "node:fs";
import { chmod, unlink } from "node:fs/promises";
import net from "node:net";

/**
 * The hypervisor's side of the serial console: it is QEMU's only serial client, appends everything the
 * guest prints to the log (kept even when nobody is attached), and fans it out to any number of clients
 * on its own socket; whatever a client types goes to the guest.
 */
export class ConsoleProxy {
  private readonly clients = new Set<net.Socket>();
  private serial: net.Socket | undefined;
  private server: net.Server | undefined;
  private log: WriteStream | undefined;
  private readonly listeners = new Set<(chunk: Buffer) => void>();

  constructor(
    private readonly serialSocket: string,
    private readonly consoleSocket: string,
    private readonly logPath: string,
  ) {}

  /** Connects to QEMU's serial socket (QEMU must be listening: started with `-S`, before `cont`). */
  async start(): Promise<void> {
    this.log = createWriteStream(this.logPath, { flags: "a", mode: 0o600 });
    this.serial = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.createConnection(this.serialSocket);
      s.once("connect", () => resolve(s));
      s.once("error", reject);
    });
    this.serial.on("data", (chunk: Buffer) => {
      this.log?.write(chunk);
      for (const c of this.clients) c.write(chunk);
      for (const l of this.listeners) l(chunk);
    });
    this.serial.on("error", () => undefined);
    this.serial.on("close", () => {
      for (const c of this.clients) c.end();
    });
    await unlink(this.consoleSocket).catch(() => undefined);
    this.server = net.createServer((client) => {
      this.clients.add(client);
      client.on("data", (chunk: Buffer) => this.serial?.write(chunk));
      client.on("error", () => undefined);
      client.on("close", () => this.clients.delete(client));
    });
    await new Promise<void>((resolve, reject) => {
      this.server?.once("error", reject);
      this.server?.listen(this.consoleSocket, () => resolve());
    });
    await chmod(this.consoleSocket, 0o600);
  }

  /** Observes guest output (used to spot readiness markers without reading the log back). */
  onOutput(listener: (chunk: Buffer) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    for (const c of this.clients) c.destroy();
    this.serial?.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    await new Promise<void>((r) => (this.log ? this.log.end(() => r()) : r()));
  }
}
