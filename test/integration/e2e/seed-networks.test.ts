import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { userExec, type LabInfo } from "../../../src/lab/index.js";
import { createServer, type Listener } from "../net/listeners.js";
import {
  e2eSetup,
  expectJobGone,
  expectNoJobKeys,
  expectNodesClean,
  jobIdFrom,
  privateIp,
  spawnPcocc,
  writeUserScript,
  type NodeSnapshot,
} from "./support.js";

/*
 * The getting-started guide's configuration (shared/seeds/001): pcocc's deprecated `nat` network (here
 * seed-nat-rssh) and `pv` network (seed-pv), in the lab's networks.yaml (src/lab/pcocc-conf.ts), used by
 * the lab-seed template. `config check` accepts it, two VMs on two nodes answer `pcocc ssh` through the
 * nat network's reverse NAT, and ping each other on pv. The nat network keeps ethernet's promises: a
 * VM's root leaves from ports >= 1024 and reaches none of its node's services.
 */
let info: LabInfo;
let baseline: NodeSnapshot[];
let outside: Listener;

beforeAll(async () => {
  ({ info, baseline } = await e2eSetup());
  outside = await createServer(info.controllerIp);
});
afterAll(() => outside?.close());

/** The user's key; pv numbered from the hostname (no DHCP there, as in pcocc); root's probes in /tmp/probe. */
function userData(nodeIps: string[]): string {
  const pub = readFileSync(`${info.user.home}/.ssh/id_ed25519.pub`, "utf8").trim();
  const nc = (host: string, port: number | string, extra = ""): string =>
    `timeout 8 busybox nc ${extra} -w 3 ${host} ${port} </dev/null >/dev/null 2>&1`;
  const cmds = [
    "n=$(hostname); ip addr add 192.168.77.$((${n#vm} + 1))/24 dev eth1; ip link set eth1 up",
    // vmN runs on the N-th node of the allocation (block distribution, one VM per node)
    `case $(hostname) in vm0) node=${nodeIps[0]};; *) node=${nodeIps[1]};; esac; echo $node > /tmp/node`,
    `${nc(info.controllerIp, outside.port, "-p 700")}; echo outside=$? >> /tmp/probe`,
    `${nc("$(cat /tmp/node)", 16818)}; echo slurmd=$? >> /tmp/probe`,
    "echo done >> /tmp/probe",
  ];
  return (
    `#cloud-config\nusers:\n  - name: ${info.user.name}\n    ssh_authorized_keys:\n      - ${pub}\n` +
    `runcmd:\n${cmds.map((c) => `  - ${JSON.stringify(c)}\n`).join("")}`
  );
}

const PROBE = `#!/bin/bash
end=$((SECONDS + 300))
for vm in vm0 vm1; do
  until pcocc ssh -- -o ConnectTimeout=5 $vm true 2>/dev/null || [ $SECONDS -ge $end ]; do sleep 1; done
done
echo "PROBE hostname=$(pcocc ssh vm1 hostname)"
for vm in vm0 vm1; do
  echo "PROBE $vm eth0=$(pcocc ssh $vm "ip -4 -o addr show dev eth0" | awk '{print $4}')" \\
    "mac=$(pcocc ssh $vm cat /sys/class/net/eth0/address)" \\
    "gw=$(pcocc ssh $vm ip route | awk '/^default/ {print $3}')"
done
pcocc ssh vm0 "ping -c 2 -W 5 ${privateIp(1)}" >/dev/null && echo "PROBE pv-ping-ok"
until pcocc ssh vm0 cat /tmp/probe 2>/dev/null | grep -q done || [ $SECONDS -ge $end ]; do sleep 1; done
pcocc ssh vm0 cat /tmp/probe | sed 's/^/PROBE /'
`;

describe("the getting-started guide's nat + pv networks", () => {
  it("pass config check", async () => {
    const r = await userExec(info, ["pcocc", "config", "check"]);
    expect(r.code, r.stderr).toBe(0);
  });

  it("boot lab-seed:2 on two nodes: ssh through reverse NAT, ping over pv, ethernet's isolation", async () => {
    const nodes = info.nodes.slice(0, 2);
    const ud = `${info.user.home}/seed-user-data.yaml`;
    const w = await userExec(info, ["sh", "-c", `cat > ${ud}`], { input: userData(nodes.map((n) => n.ip)) });
    expect(w.code, w.stderr).toBe(0);
    const probe = await writeUserScript(info, "seed-probe.sh", PROBE);
    const run = spawnPcocc(info, [
      "alloc",
      `--nodelist=${nodes.map((n) => n.name).join(",")}`,
      "-N2",
      "-c1",
      "-E",
      probe,
      "--user-data",
      ud,
      "lab-seed:2",
    ]);
    const code = await run.exited;
    const jobId = jobIdFrom(run.out.stderr);
    const transcript = `stdout:\n${run.out.stdout}\nstderr:\n${run.out.stderr}`;
    expect(jobId, transcript).toBeDefined();
    expect(code, transcript).toBe(0);
    expect(run.out.stdout, transcript).toContain("PROBE hostname=vm1");
    // pcocc's nat: every VM sees the same address, MAC and gateway (from the nat network's DHCP)
    for (const vm of ["vm0", "vm1"])
      expect(run.out.stdout, transcript).toContain(
        `PROBE ${vm} eth0=10.252.0.2/24 mac=52:54:00:44:ae:5e gw=10.252.0.1`,
      );
    expect(run.out.stdout, transcript).toContain("PROBE pv-ping-ok");
    expect(run.out.stdout, transcript).toContain("PROBE outside=0");
    const [peer] = await outside.peers(1);
    expect(nodes.map((n) => n.ip)).toContain(peer!.address);
    expect(peer!.port).toBeGreaterThanOrEqual(1024);
    // busybox nc exits 1 when it cannot connect; the login node reaches the same slurmd (0, or 124 when
    // it keeps the connection open), so the VM's 1 means "blocked"
    expect(run.out.stdout, transcript).toContain("PROBE slurmd=1");
    const login = await userExec(info, ["timeout", "5", "busybox", "nc", "-w", "3", nodes[0]!.ip, "16818"], {
      input: "",
    });
    expect([0, 124]).toContain(login.code);
    await expectJobGone(info, jobId!);
    await expectNodesClean(info, baseline);
    await expectNoJobKeys(info, jobId!);
  });
});
