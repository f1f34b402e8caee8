import { afterEach, describe, expect, it } from "vitest";
import { render, initialize } from "../render";
import { NEEDS_KERNEL, StaticModel, decodeValue, mountSaved } from "../saved";
import { eiffelState } from "./fakeModel";

const b64 = (arr: Float32Array | Int32Array) => ({ __b64__: Buffer.from(new Uint8Array(arr.buffer)).toString("base64") });

/** The Eiffel state as save_html writes it (binary traits as base64). */
function savedEiffel(extra: Record<string, unknown> = {}) {
  const state: Record<string, unknown> = { view: "explorer", ...eiffelState(), selected_feature: 10, selected_token: null, steering: {},
    dashboard: { feature: 10, status: "ok", examples: [] }, dashboard_values: null, status: "", status_kind: "idle", ...extra };
  for (const [k, v] of Object.entries(state)) if (v instanceof DataView) state[k] = b64(new Float32Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength)));
  return { state, dashboards: { "20": { dashboard: { feature: 20, status: "ok", label: "French cities", examples: [] }, values: b64(new Float32Array([1, 2])) } } };
}

afterEach(() => document.body.replaceChildren());

describe("saved pages", () => {
  it("decodes base64 back into DataViews, deep inside too", () => {
    const v = decodeValue({ a: [b64(new Float32Array([1.5]))], b: "x" }) as { a: DataView[]; b: string };
    expect(v.a[0].getFloat32(0, true)).toBe(1.5);
    expect(v.b).toBe("x");
  });

  it("shows a saved dashboard on a click, and says so when it was not saved", () => {
    const model = new StaticModel(savedEiffel());
    model.set("selected_feature", 20);
    model.save_changes();
    expect((model.get("dashboard") as Record<string, unknown>).label).toBe("French cities");
    model.set("selected_feature", 30);
    model.save_changes();
    expect((model.get("dashboard") as Record<string, string>).message).toContain("was not saved with this page");
  });

  it("answers kernel work with a clear message instead of silence", async () => {
    const model = new StaticModel(savedEiffel());
    const msgs: unknown[] = [];
    model.on("msg:custom", (m: unknown) => msgs.push(m));
    model.send({ type: "column", feature: 99 });
    model.send({ type: "generate", force: true });
    await new Promise((r) => setTimeout(r, 0));
    expect(msgs).toEqual([{ type: "column", feature: 99, side: undefined, error: `exact values ${NEEDS_KERNEL}` }]);
    expect(model.get("status")).toBe(`steering ${NEEDS_KERNEL}`);
    expect(model.get("status_kind")).toBe("error");
  });

  it("mounts a widget that answers clicks from the saved state", () => {
    const el = document.createElement("div");
    document.body.appendChild(el);
    const model = mountSaved(el, savedEiffel(), { initialize, render });
    expect(el.classList.contains("sw-saved")).toBe(true);
    el.querySelector<HTMLElement>('[data-token-index="6"]')!.click();
    expect(model.get("selected_token")).toBe(6);
    expect(el.querySelectorAll("[data-feature-id]:not(input)").length).toBeGreaterThan(0);
    expect(document.getElementById("sw-saved-style")).not.toBeNull();
  });
});
