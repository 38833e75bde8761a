import { describe, expect, it } from "vitest";
import type { JobRecord } from "../../../src/net/plan.js";
import type { NetworkConfig } from "../../../src/config/index.js";
import { netView, type NetView } from "../../../src/net/net-view.js";
import { selectStrays } from "../../../src/net/strays.js";

const view = (type: string, settings: Record<string, unknown>): NetView =>
  netView({ name: "n", type, settings } as unknown as NetworkConfig)!;
const eth = (dev: string): NetView => view("ethernet", { "dev-prefix": dev });

const rec = (jobId: number, links: string[], bridges: string[], netns: string[]): JobRecord => ({
  jobId,
  nodeRank: 0,
  user: "alice",
  dir: `/run/pcocc/job-${jobId}`,
  links,
  netns,
  bridges,
  nftTables: [`pcocc_j${jobId}`],
  pidFiles: [],
  hostPorts: [],
  linkGroup: jobId,
  extIds: {},
  vnis: {},
  keys: [],
});

describe("selectStrays", () => {
  it("keeps what live records list and picks pcocc-named objects of dead jobs", () => {
    const keep = [rec(7, ["nat_tap0", "nat_vx0"], ["nat_br0"], ["pcocc_j7n0_nat"])];
    const s = selectStrays([eth("nat"), eth("pv")], keep, new Set([7, 8]), {
      links: [
        "lo",
        "eth0",
        "nat_tap0",
        "nat_vx0",
        "nat_tap1",
        "pv_vg3",
        "natx_tap1",
        "nat_tap",
        "other_tap1",
      ],
      bridges: ["nat_br0", "nat_br1", "br-int", "pv_br2"],
      netns: ["pcocc_j7n0_nat", "pcocc_j8n1_nat", "pcocc_j9n0_nat", "pcocc_j9n0_nat_dns", "lslm-node1"],
      tables: ["pcocc", "pcocc_j7", "pcocc_j9", "filter"],
    });
    expect(s).toEqual({
      links: ["nat_tap1", "pv_vg3"],
      bridges: ["nat_br1", "pv_br2"],
      // job 8 is still running (its namespace may belong to another node of the job)
      netns: ["pcocc_j9n0_nat", "pcocc_j9n0_nat_dns"],
      tables: ["pcocc_j9"],
    });
  });

  it("knows pcocc's pv and nat names: <prefix>N taps and bridges, <tap-prefix>_<kind>N for the rest", () => {
    const pv = view("pv", { "bridge-prefix": "pvbr", "tap-prefix": "pvtap" });
    const nat = view("nat", {
      bridge: "natbr",
      "tap-prefix": "nattap",
      "vm-hwaddr": "52:54:00:44:AE:5E",
      "bridge-hwaddr": "52:54:00:C0:C0:C0",
    });
    const s = selectStrays([pv, nat], [rec(7, ["pvtap0"], ["pvbr0"], [])], new Set([7]), {
      links: ["pvtap0", "pvtap1", "pvtap_vx2", "nattap3", "nattap_vg1", "nattap_vd1", "pvtapx1", "natbr1"],
      bridges: ["pvbr0", "pvbr4", "natbr2", "nattap5", "pvbr"],
      netns: [],
      tables: [],
    });
    expect(s.links).toEqual(["pvtap1", "pvtap_vx2", "nattap3", "nattap_vg1", "nattap_vd1"]);
    expect(s.bridges).toEqual(["pvbr4", "natbr2"]);
  });

  it("touches no link or bridge when no ethernet network is configured", () => {
    expect(
      selectStrays([], [], new Set(), { links: ["nat_tap1"], bridges: ["nat_br1"], netns: [], tables: [] }),
    ).toEqual({
      links: [],
      bridges: [],
      netns: [],
      tables: [],
    });
  });
});
