import { describe, expect, it } from "vitest";
import { ConfigError, formatConfigIssue } from "../../src/util/errors.js";

describe("config errors", () => {
  it("name the file, line and key path in one line", () => {
    expect(
      formatConfigIssue({ file: "/etc/pcocc/networks.yaml", line: 4, keyPath: "pv.type", message: "bad" }),
    ).toBe("/etc/pcocc/networks.yaml:4: pv.type: bad");
    expect(
      new ConfigError([
        { file: "a.yaml", message: "x" },
        { file: "b.yaml", message: "y" },
      ]).message,
    ).toBe("a.yaml: x\nb.yaml: y");
  });
});
