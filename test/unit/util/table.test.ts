import { describe, expect, it } from "vitest";
import { formatTable } from "../../../src/util/table.js";

describe("formatTable", () => {
  it("pads every column but the last to its widest cell, under a rule", () => {
    expect(
      formatTable(
        ["NAME", "X"],
        [
          ["a", "1"],
          ["long-name", ""],
        ],
      ),
    ).toBe("NAME       X\n---------  -\na          1\nlong-name\n");
  });

  it("prints the header and rule of an empty table", () => {
    expect(formatTable(["A", "BB"], [])).toBe("A  BB\n-  --\n");
  });
});
