import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { LinePrefixer } from "../../../src/slurm/line-prefix.js";
import { parseIndices } from "../../../src/slurm/exec.js";
import { groupedMessage } from "../../../src/slurm/agent-reach.js";

describe("VM output and targets", () => {
  it("prefixes whole lines only, and the unfinished last line when flushed", () => {
    const out = new PassThrough();
    let text = "";
    out.on("data", (d: Buffer) => (text += d.toString()));
    const p = new LinePrefixer("vm1: ", out);
    p.write(Buffer.from("a\nb"));
    expect(text).toBe("vm1: a\n");
    p.write(Buffer.from("c\n\nd"));
    expect(text).toBe("vm1: a\nvm1: bc\nvm1: \n");
    p.flush();
    expect(text).toBe("vm1: a\nvm1: bc\nvm1: \nvm1: d\n");
  });

  it("parses -i as all or a range set, and names what it cannot parse", () => {
    expect(parseIndices("all")).toBe("all");
    expect(parseIndices("3,0-1,1")).toEqual([0, 1, 3]);
    for (const bad of ["", "x", "2-1", "1,", "-1"]) expect(() => parseIndices(bad)).toThrow(`-i ${bad}:`);
  });

  it("groups failures by reason, naming the VMs", () => {
    const m = new Map([
      ["unknown user bob", [2, 0]],
      ["timed out", [3]],
    ]);
    expect(groupedMessage(m)).toBe("vm[0,2]: unknown user bob; vm3: timed out");
  });
});
