import { createSocket as udpSocket } from "node:dgram";
import { createServer as tcpServer } from "node:net";

/** Where connections and datagrams came from, as a listener outside the job sees them. */
export interface Peer {
  address: string;
  port: number;
}

export interface Listener {
  port: number;
  /** The first `n` peers (waits for them, at most 10 s). */
  peers(n: number): Promise<Peer[]>;
  close(): void;
}

function collector(): { seen: Peer[]; add: (p: Peer) => void; peers: (n: number) => Promise<Peer[]> } {
  const seen: Peer[] = [];
  const waiters: Array<() => void> = [];
  return {
    seen,
    add: (p) => {
      seen.push(p);
      waiters.splice(0).forEach((w) => w());
    },
    peers: async (n) => {
      const deadline = Date.now() + 10_000;
      while (seen.length < n) {
        if (Date.now() > deadline) throw new Error(`listener saw ${seen.length} of ${n} peers`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 500);
        });
      }
      return seen.slice(0, n);
    },
  };
}

/** A TCP listener on `host` (any free port) that records each connection's source. */
export async function createServer(host: string): Promise<Listener> {
  const c = collector();
  const srv = tcpServer((sock) => {
    c.add({ address: sock.remoteAddress!.replace(/^::ffff:/, ""), port: sock.remotePort! });
    sock.end();
  });
  await new Promise<void>((resolve) => srv.listen(0, host, resolve));
  const port = (srv.address() as { port: number }).port;
  return { port, peers: c.peers, close: () => srv.close() };
}

/** A UDP socket on `host` (any free port) that records each datagram's source. */
export async function createSocket(host: string): Promise<Listener> {
  const c = collector();
  const sock = udpSocket("udp4");
  sock.on("message", (_m, rinfo) => c.add({ address: rinfo.address, port: rinfo.port }));
  await new Promise<void>((resolve) => sock.bind(0, host, resolve));
  return { port: sock.address().port, peers: c.peers, close: () => sock.close() };
}
