import { describe, expect, it } from "vitest";
import { DetachDetector } from "../../../src/vm/console-attach.js";

const C = Uint8Array.of(3);

describe("DetachDetector", () => {
  it("detaches on the third Ctrl-C within 2 s of the first", () => {
    const d = new DetachDetector();
    expect(d.feed(C, 0)).toBe(false);
    expect(d.feed(Buffer.from("ls\r"), 100)).toBe(false);
    expect(d.feed(C, 500)).toBe(false);
    expect(d.feed(C, 1999)).toBe(true);
  });

  it("restarts the count when a Ctrl-C comes after the window", () => {
    const d = new DetachDetector();
    d.feed(C, 0);
    d.feed(C, 1000);
    expect(d.feed(C, 2500)).toBe(false);
    expect(d.feed(C, 3000)).toBe(false);
    expect(d.feed(C, 4000)).toBe(true);
  });

  it("counts several Ctrl-C in one read", () => {
    expect(new DetachDetector().feed(Uint8Array.of(3, 3, 3), 0)).toBe(true);
  });
});
