// One process of bench/scale: a share of the simulated hosts. Each host runs pcocc's real node-side
// control plane — root setup's keystore part (beginJobOnNode: job leases or join, host states, the node's
// NIC records in one txn, as the network setup publishes them) and one real hypervisor task per VM
// (runVmTask: keystore join, NIC read, seed, QMP, states) — against the bench's private etcd. QEMU is
// ./fake-qemu plus the QMP stand-in below; no SLURM, no network objects. Driven by bench/scale/run over IPC.
import { watch as watchFs } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import net from "node:net";
import { join } from "node:path";

const { root, hosts, vmsPerHost, nodes, jobId, user, spool } = JSON.parse(process.argv[2]);
const dist = (m) => import(join(root, "dist", m, "index.js"));
const [{ loadConfig }, job, keystore, { runVmTask }] = await Promise.all([
  dist("config"),
  dist("job"),
  dist("keystore"),
  dist("slurm"),
]);
// every in-process hypervisor listens for SIGTERM like its own process would
process.setMaxListeners(0);

/** The QMP side of QEMU for one stand-in process: every socket of its command line, then answers. */
async function serveQemu(pid, argv) {
  const listen = (path) =>
    new Promise((resolve, reject) => {
      const srv = net.createServer((c) =>
        qmp.has(path) ? speakQmp(c, pid) : c.on("error", () => undefined),
      );
      srv.once("error", reject);
      srv.listen(path, () => resolve(srv));
    });
  const chardevs = [];
  const qmp = new Set();
  argv.forEach((a, i) => {
    const v = argv[i + 1] ?? "";
    if (a === "-chardev" && /server=on/.test(v) && /path=([^,]+)/.test(v))
      chardevs.push(/path=([^,]+)/.exec(v)[1]);
    if (a === "-qmp") qmp.add(/^unix:([^,]+)/.exec(v)?.[1]);
  });
  // QEMU has made all its sockets by the time its monitor answers: the monitors come last
  for (const p of chardevs) await listen(p);
  for (const p of qmp) await listen(p);
}

function speakQmp(conn, pid) {
  conn.on("error", () => undefined);
  conn.write(
    `${JSON.stringify({ QMP: { version: { qemu: { major: 8, minor: 0, micro: 0 } }, capabilities: [] } })}\r\n`,
  );
  // QMP clients send JSON values back to back, without separators
  let buf = "";
  let depth = 0;
  let inString = false;
  let escaped = false;
  conn.setEncoding("utf8").on("data", (d) => {
    for (const ch of d) {
      buf += ch;
      if (inString) {
        if (escaped) escaped = false;
        else if (ch === "\\") escaped = true;
        else if (ch === '"') inString = false;
      } else if (ch === '"') inString = true;
      else if (ch === "{") depth++;
      else if (ch === "}" && --depth === 0) {
        answer(conn, pid, JSON.parse(buf));
        buf = "";
      }
    }
  });
}

function answer(conn, pid, cmd) {
  const ret = cmd.execute === "query-status" ? { status: "running", running: true } : {};
  conn.write(`${JSON.stringify({ return: ret, id: cmd.id })}\r\n`);
  if (cmd.execute === "quit") process.kill(pid, "SIGKILL");
}

/** Picks up every stand-in's command line: on directory events, and by a rescan in case the events coalesced. */
function watchSpool() {
  const seen = new Set();
  let busy = false;
  const pick = async () => {
    if (busy) return;
    busy = true;
    try {
      for (const f of await readdir(spool)) {
        // <host process pid>.<stand-in pid>.argv: each process serves its own hypervisors' stand-ins
        if (!f.startsWith(`${process.pid}.`) || !f.endsWith(".argv") || seen.has(f)) continue;
        seen.add(f);
        const argv = (await readFile(join(spool, f), "utf8")).split("\n");
        serveQemu(Number(f.split(".")[1]), argv).catch((e) =>
          process.send({ error: `fake qemu: ${e.message}` }),
        );
      }
    } catch {
      // the bench removes the spool when it is done with this process
    } finally {
      busy = false;
    }
  };
  watchFs(spool, () => void pick());
  setInterval(() => void pick(), 50);
}

async function runHost(config, nodeRank) {
  const setup = {
    jobId,
    stepId: 0,
    uid: process.getuid(),
    gid: process.getgid(),
    user,
    nodeRank,
    nnodes: nodes,
    nodes: Array.from({ length: nodes }, (_, i) => `sim${i}`),
    vmsPerNode: Array(nodes).fill(vmsPerHost),
    resourceDefinition: `sim:${nodes * vmsPerHost}`,
  };
  const ranks = Array.from({ length: vmsPerHost }, (_, i) => nodeRank * vmsPerHost + i);
  await job.beginJobOnNode(config, setup, (handle) =>
    handle.putMany([
      {
        key: keystore.netRecordSubKey("sim", nodeRank),
        value: Object.fromEntries(
          ranks.map((r) => [
            `vm-${r}`,
            { tap: `simtap${r}`, mac: `52:54:00:${hex(r >> 16)}:${hex(r >> 8)}:${hex(r)}` },
          ]),
        ),
      },
    ]),
  );
  const env = (rank) => ({
    ...process.env,
    SLURM_JOB_ID: String(jobId),
    SLURM_PROCID: String(rank),
    SLURM_NODEID: String(nodeRank),
    SLURM_TASKS_PER_NODE: `${vmsPerHost}(x${nodes})`,
    SLURM_CPUS_PER_TASK: "1",
    SLURM_MEM_PER_CPU: "64",
    ...job.encodeTaskEnv({ definition: `sim:${nodes * vmsPerHost}`, mounts: [], imageOverrides: {} }),
  });
  await Promise.all(ranks.map((r) => runVmTask(env(r))));
}

const hex = (n) => (n & 0xff).toString(16).padStart(2, "0");

const config = await loadConfig();
watchSpool();
process.on("message", (m) => {
  if (m.go)
    for (const h of hosts)
      runHost(config, h).catch((e) => process.send({ error: `host ${h}: ${e.message}` }));
});
// the bench kills this process; the fake QEMUs die with their hypervisors (setpriv's parent-death signal)
process.send({ ready: true });
