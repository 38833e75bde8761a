import { existsSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeExec, userExec, type LabInfo } from "../../../src/lab/index.js";
import { createServer, type Listener } from "../net/listeners.js";
import {
  e2eSetup,
  expectJobGone,
  expectNodesClean,
  jobIdFrom,
  spawnPcocc,
  TINY,
  waitUntil,
  writeUserScript,
  type NodeSnapshot,
} from "./support.js";

/*
 * A real VM's root (the user-data runcmd runs as root in the guest) attacks the node it runs on, and an
 * admin runs `setup cleanup` on that node while the job runs:
 * - a connection from the VM to a listener outside (this process, on the login node) arrives from the
 *   node's address and a port >= 1024 although the VM bound port 700;
 * - the node's own services (slurmd, a listener on the node, the node address the routers use) are
 *   unreachable from the VM;
 * - cleanup keeps the job's objects and the node-level rules; ssh to the VM still works afterwards.
 */
let info: LabInfo;
let baseline: NodeSnapshot[];
let outside: Listener;

beforeAll(async () => {
  ({ info, baseline } = await e2eSetup());
  outside = await createServer(info.controllerIp);
});
afterAll(() => outside?.close());

/** User-data: the user's key, and root probes whose outcomes land in /tmp/probe (readable by the user). */
function userData(nodeIp: string): string {
  const pub = readFileSync(`${info.user.home}/.ssh/id_ed25519.pub`, "utf8").trim();
  const nc = (host: string, port: number, extra = ""): string =>
    `timeout 8 busybox nc ${extra} -w 3 ${host} ${port} </dev/null >/dev/null 2>&1`;
  const probes = [
    `${nc(info.controllerIp, outside.port, "-p 700")}; echo outside=$? >> /tmp/probe`,
    `${nc(nodeIp, 16818)}; echo slurmd=$? >> /tmp/probe`,
    `${nc(nodeIp, 2222)}; echo node-listener=$? >> /tmp/probe`,
    `${nc("10.250.255.254", 2222)}; echo router-side=$? >> /tmp/probe`,
    "echo done >> /tmp/probe",
  ];
  return (
    `#cloud-config\nusers:\n  - name: ${info.user.name}\n    ssh_authorized_keys:\n      - ${pub}\n` +
    `runcmd:\n${probes.map((p) => `  - ${JSON.stringify(p)}\n`).join("")}`
  );
}

const PROBE = `#!/bin/bash
end=$((SECONDS + 300))
until pcocc ssh -- -o ConnectTimeout=5 vm0 true 2>/dev/null || [ $SECONDS -ge $end ]; do sleep 1; done
until pcocc ssh vm0 cat /tmp/probe 2>/dev/null | grep -q done || [ $SECONDS -ge $end ]; do sleep 1; done
pcocc ssh vm0 cat /tmp/probe | sed 's/^/PROBE /'
touch ~/vm-isolation.ready
until [ -e ~/vm-isolation.cleaned ] || [ $SECONDS -ge $end ]; do sleep 1; done
pcocc ssh -- -o ConnectTimeout=10 vm0 echo ok | sed 's/^/PROBE ssh-after-cleanup=/'
`;

describe("a VM against its own node", () => {
  it("leaves from ports >= 1024, reaches none of the node's services, and survives setup cleanup", async () => {
    const node = info.nodes[0]!;
    // A listener on the node itself, reachable from the login node (so the VM's failure means something).
    const listener = await nodeExec(node, [
      "sh",
      "-c",
      `python3 -c 'import socket;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(("0.0.0.0",2222));s.listen();[c.close() for c,_ in iter(s.accept,None)]' >/dev/null 2>&1 & echo $!`,
    ]);
    const listenerPid = listener.stdout.trim();
    for (const f of ["vm-isolation.ready", "vm-isolation.cleaned"])
      await userExec(info, ["rm", "-f", `${info.user.home}/${f}`]);
    const ud = `${info.user.home}/vm-isolation-user-data.yaml`;
    await userExec(info, ["sh", "-c", `cat > ${ud}`], { input: userData(node.ip) });
    const probe = await writeUserScript(info, "vm-isolation.sh", PROBE);
    try {
      const run = spawnPcocc(info, [
        "alloc",
        `--nodelist=${node.name}`,
        "-N1",
        "-c1",
        "-E",
        probe,
        "--user-data",
        ud,
        `${TINY}:1`,
      ]);
      await waitUntil(
        "the probe to be ready for cleanup",
        async () =>
          existsSync(`${info.user.home}/vm-isolation.ready`) ||
          (run.child.exitCode !== null ? "exited" : false),
        240_000,
      );
      const jobId = jobIdFrom(run.out.stderr);
      expect(jobId, run.out.stderr).toBeDefined();
      const cleanup = await nodeExec(node, ["pcocc", "internal", "setup", "cleanup"], {
        env: { PCOCC_SYSTEM_CONF_DIR: info.pcoccConfDir, SLURM_CONF: info.slurmConf },
      });
      expect(cleanup.code, cleanup.stderr).toBe(0);
      expect(cleanup.stderr).toContain(`Kept the network objects of running jobs ${jobId}`);
      expect((await nodeExec(node, ["nft", "list", "table", "ip", "pcocc"])).code).toBe(0);
      await userExec(info, ["touch", `${info.user.home}/vm-isolation.cleaned`]);
      const code = await run.exited;
      const transcript = `stdout:\n${run.out.stdout}\nstderr:\n${run.out.stderr}`;
      expect(code, transcript).toBe(0);
      expect(run.out.stdout, transcript).toContain("PROBE outside=0");
      const [peer] = await outside.peers(1);
      expect(peer).toMatchObject({ address: node.ip });
      expect(peer!.port).toBeGreaterThanOrEqual(1024);
      // busybox nc exits 1 when it cannot connect (timeout(1) would say 124 for a connection left open).
      for (const target of ["slurmd", "node-listener", "router-side"])
        expect(run.out.stdout, transcript).toContain(`PROBE ${target}=1`);
      expect(run.out.stdout, transcript).toContain("PROBE ssh-after-cleanup=ok");
      // The node's services are there for others: the login node reaches both (0, or 124 when the
      // service keeps the connection open), so the VM's 1 means "blocked".
      for (const port of [16818, 2222]) {
        const r = await userExec(info, ["timeout", "5", "busybox", "nc", "-w", "3", node.ip, String(port)], {
          input: "",
        });
        expect([0, 124], `login node to ${node.ip}:${port}`).toContain(r.code);
      }
      await expectJobGone(info, jobId!);
    } finally {
      if (/^[0-9]+$/.test(listenerPid)) await nodeExec(node, ["kill", listenerPid]);
    }
    await expectNodesClean(info, baseline);
  });
});
