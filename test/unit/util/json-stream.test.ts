import { describe, expect, it } from "vitest";
import { JsonValueSplitter } from "../../../src/util/json-stream.js";

describe("JsonValueSplitter", () => {
  it("splits values that arrive without separators and across chunk boundaries", () => {
    const s = new JsonValueSplitter();
    expect(s.push('{"QMP": {"version": {}}}{"ret')).toEqual([{ QMP: { version: {} } }]);
    expect(s.push('urn": {}, "id": "1"}  [1,')).toEqual([{ return: {}, id: "1" }]);
    expect(s.push("2]")).toEqual([[1, 2]]);
  });

  it("is not fooled by braces and escaped quotes inside strings", () => {
    const s = new JsonValueSplitter();
    const v = '{"return": "a } \\" { ]", "id": "2"}';
    expect(s.push(`${v}\r\n${v}`)).toEqual([
      { return: 'a } " { ]', id: "2" },
      { return: 'a } " { ]', id: "2" },
    ]);
  });

  it("keeps an unfinished value until it completes, one byte at a time", () => {
    const s = new JsonValueSplitter();
    const text = '{"event": "STOP", "data": {"x": [1, {"y": "}"}]}}';
    const out: unknown[] = [];
    for (const c of text) out.push(...s.push(c));
    expect(out).toEqual([JSON.parse(text)]);
  });

  it("keeps multi-byte characters split between chunks", () => {
    const s = new JsonValueSplitter();
    const bytes = Buffer.from('{"n":"é"}');
    expect(s.push(bytes.subarray(0, 7))).toEqual([]);
    expect(s.push(bytes.subarray(7))).toEqual([{ n: "é" }]);
  });

  it("rejects garbage, bare strings and unbalanced closers between values", () => {
    expect(() => new JsonValueSplitter().push("{} x")).toThrow(/unexpected character "x"/);
    expect(() => new JsonValueSplitter().push('{} "a"')).toThrow(/unexpected character/);
    expect(() => new JsonValueSplitter().push("{}}")).toThrow(/unbalanced/);
  });

  it("rejects a balanced value that is not JSON", () => {
    expect(() => new JsonValueSplitter().push("{1}")).toThrow(SyntaxError);
  });
});
