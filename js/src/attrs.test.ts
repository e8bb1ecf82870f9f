import { describe, expect, it } from "vitest";
import { parseValue, readFields } from "./attrs";

describe("attribute values", () => {
  it("parses typed input: empty is no value, bad numbers are refused", () => {
    expect(parseValue("int", " 3 ")).toBe(3);
    expect(parseValue("int", "3.5")).toBeUndefined();
    expect(parseValue("int", "x")).toBeUndefined();
    expect(parseValue("int", "")).toBeNull();
    expect(parseValue("float", "0.25")).toBe(0.25);
    expect(parseValue("float", "1e400")).toBeUndefined();
    expect(parseValue("string", " a b ")).toBe(" a b ");
    expect(parseValue("string", "")).toBeNull();
    expect(parseValue("bool", "true")).toBe(true);
  });

  it("keeps well-formed state fields only", () => {
    expect(readFields([{ name: "occluded", type: "bool" }, { name: "x", type: "date" }, { type: "int" }, null])).toEqual([{ name: "occluded", type: "bool" }]);
    expect(readFields(undefined)).toEqual([]);
  });
});
