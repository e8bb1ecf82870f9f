// @vitest-environment jsdom
import { afterEach, describe, expect, it } from "vitest";
import { FindBox, MAX_FIND_TEXT, NEEDS_SAM3, findFields, findSummary } from "./find";

describe("findFields", () => {
  it("sends the text on one line with single spaces, the scope and the frame", () => {
    expect(findFields("  red \n  car\t", "frame", 12)).toEqual({ text: "red car", scope: "frame", frame: 12 });
    expect(findFields("dog", "video", 0)).toEqual({ text: "dog", scope: "video", frame: 0 });
    expect(findFields("dog", "nonsense", 3)).toEqual({ text: "dog", scope: "frame", frame: 3 });
  });

  it("refuses an empty or an overlong text, as the kernel would", () => {
    for (const typed of ["", "   ", "\n\t"]) expect(findFields(typed, "frame", 0)).toHaveProperty("error");
    expect(findFields("x".repeat(MAX_FIND_TEXT), "frame", 0)).toHaveProperty("text");
    expect(findFields("x".repeat(MAX_FIND_TEXT + 1), "frame", 0)).toEqual({ error: expect.stringContaining(`at most ${MAX_FIND_TEXT}`) });
  });
});

describe("findSummary", () => {
  it("shows the kernel's message, else a count", () => {
    expect(findSummary({ message: "no 'dog' found on frame 12", entities: [] })).toBe("no 'dog' found on frame 12");
    expect(findSummary({ text: "dog", entities: ["e1", "e2"] })).toBe("found 2 'dog'");
    expect(findSummary({ text: "dog", entities: [] })).toBe("no 'dog' found");
    expect(findSummary({ text: "dog", entities: [], found: ["e3"] })).toBe("found 1 'dog'"); // later in the video
  });
});

describe("FindBox", () => {
  afterEach(() => document.body.replaceChildren());

  function rig() {
    const calls: string[] = [];
    const box = new FindBox({
      onFind: (text, scope) => calls.push(`find ${text} ${scope}`),
      onCancel: () => calls.push("cancel"),
      onLeave: () => calls.push("leave"),
    });
    box.setAvailable(true);
    document.body.append(box.el);
    const type = (v: string) => {
      box.text.value = v;
      box.text.dispatchEvent(new Event("input"));
    };
    const press = (key: string) => {
      const e = new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true });
      box.text.dispatchEvent(e);
      return e;
    };
    return { box, calls, type, press, esc: () => press("Escape") };
  }

  it("the button needs a text and an idle kernel; Enter or the button sends the text and the scope", () => {
    const { box, calls, type, press } = rig();
    expect(box.button.disabled).toBe(true);
    press("Enter");
    type("  ");
    expect(box.button.disabled).toBe(true);
    expect(calls).toEqual([]);
    type("dog");
    expect(box.button.disabled).toBe(false);
    expect(press("Enter").defaultPrevented).toBe(true); // no second, implicit form submission
    box.scope.value = "video";
    box.button.click();
    expect(calls).toEqual(["find dog frame", "find dog video"]);
    box.setBusy(true, false);
    expect(box.button.disabled).toBe(true);
    press("Enter"); // while busy: nothing
    box.button.click();
    box.setBusy(false, true); // a run going: busy too
    press("Enter");
    expect(calls).toEqual(["find dog frame", "find dog video"]);
    box.setBusy(false, false);
    expect(box.button.disabled).toBe(false);
  });

  it("starts disabled, saying what to load; usable once the engine can find", () => {
    const calls: string[] = [];
    const box = new FindBox({ onFind: (t, sc) => calls.push(`${t} ${sc}`), onCancel: () => {}, onLeave: () => {} });
    box.text.value = "dog";
    box.text.dispatchEvent(new Event("input"));
    const off = () => [box.el.hidden, box.text.disabled, box.scope.disabled, box.button.disabled];
    expect(off()).toEqual([false, true, true, true]);
    expect(box.el.title).toBe(NEEDS_SAM3);
    expect(box.text.title).toContain('vl.segment.load("sam3"');
    expect(box.el.classList.contains("vl-find-off")).toBe(true);
    box.submit(); // disabled: nothing is sent
    expect(calls).toEqual([]);
    box.setAvailable(true);
    expect(off()).toEqual([false, false, false, false]);
    expect([box.el.title, box.el.classList.contains("vl-find-off")]).toEqual(["", false]);
    box.submit();
    box.setAvailable(false);
    expect(off()).toEqual([false, true, true, true]);
    box.submit();
    expect(calls).toEqual(["dog frame"]);
  });

  it("Esc in the text cancels a running find, else hands the keys back; it goes no further", () => {
    const { box, calls, esc } = rig();
    let leaked = 0;
    document.body.addEventListener("keydown", () => leaked++);
    box.setBusy(false, true);
    expect(esc().defaultPrevented).toBe(true);
    box.setBusy(false, false);
    esc();
    expect(calls).toEqual(["cancel", "leave"]);
    expect(leaked).toBe(0);
  });
});
