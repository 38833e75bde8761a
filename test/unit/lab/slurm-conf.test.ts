import { describe, expect, it } from "vitest";
import {
  renderCgroupConf,
  renderHosts,
  renderPlugstack,
  renderSlurmConf,
} from "../../../src/lab/slurm-conf.js";

const params = {
  controllerHost: "vm",
  nodes: [
    { name: "node1", ip: "10.231.0.11" },
    { name: "node2", ip: "10.231.0.12" },
  ],
  cpus: 4,
  memMiB: 4096,
  prologFlags: "",
  paths: {
    ctldState: "/lab/state/ctld",
    spool: "/lab/state/spool",
    log: "/lab/log",
    run: "/lab/run",
    mungeSocket: "/lab/munge/munge.socket.2",
    plugstackConf: "/lab/etc/slurm/plugstack.conf",
  },
};

describe("lab slurm.conf", () => {
  it("names the controller after the host and addresses it on the bridge", () => {
    const conf = renderSlurmConf(params);
    expect(conf).toContain("SlurmctldHost=vm(10.231.0.1)\n");
    expect(conf).toContain("AuthInfo=socket=/lab/munge/munge.socket.2\n");
    expect(conf).toContain("NodeName=node2 NodeAddr=10.231.0.12 NodeHostname=node2 CPUs=4 RealMemory=4096");
    expect(conf).toContain("DefMemPerCPU=1024\n");
  });

  it("sets PrologFlags only when asked", () => {
    expect(renderSlurmConf(params)).not.toContain("PrologFlags");
    expect(renderSlurmConf({ ...params, prologFlags: "Alloc" })).toContain("PrologFlags=Alloc\n");
  });

  it("loads the SPANK plugin only when it is built", () => {
    expect(renderPlugstack(null, "/r/bin/pcocc")).not.toContain("required");
    expect(renderPlugstack("/r/slurm-plugin/build/spank_pcocc.so", "/r/bin/pcocc")).toContain(
      "required /r/slurm-plugin/build/spank_pcocc.so pcocc=/r/bin/pcocc\n",
    );
  });

  it("lists the controller and every node in the nodes' hosts file", () => {
    const hosts = renderHosts("vm", params.nodes);
    expect(hosts).toContain("10.231.0.1 vm\n");
    expect(hosts).toContain("10.231.0.12 node2\n");
  });

  it("picks cgroup v2 without systemd on a pure v2 host", () => {
    expect(renderCgroupConf(true)).toContain("CgroupPlugin=cgroup/v2");
    expect(renderCgroupConf(false)).toContain("autodetect");
  });
});
