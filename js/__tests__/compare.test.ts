import { afterEach, describe, expect, it } from "vitest";
import { prefixedModel } from "../prefixed";
import { FakeModel, activationState, asDataView, mountView } from "./fakeModel";

function sideState(prefix: string, tokens: string[], top: Array<Array<[number, number]>>): Record<string, unknown> {
  const s = activationState({ tokens, k: 2, top, columnIds: [10, 20] });
  return Object.fromEntries(Object.entries(s).filter(([k]) => k !== "labels").map(([k, v]) => [`${prefix}_${k}`, v]));
}

function state(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    view: "compare", text_a: "Paris is big", text_b: "Rome is old", by: "max", sae_name: "test",
    labels: { "10": "France", "20": "Italy" }, selected_feature: 10,
    diff_ids: [10, 20], diff_a: asDataView(new Float32Array([8, 0])), diff_b: asDataView(new Float32Array([0, 6])),
    ...sideState("a", ["<bos>", "Paris", " is", " big"], [[[30, 9]], [[10, 8]], [[10, 2]], []]),
    ...sideState("b", ["<bos>", "Rome", " is", " old"], [[[30, 9]], [[20, 6]], [[20, 3]], []]),
    a_selected_token: null, b_selected_token: null,
    ...extra,
  };
}

afterEach(() => document.body.replaceChildren());

describe("prefixed model", () => {
  it("maps one side's traits, shares the shared ones, and routes messages by side", () => {
    const model = new FakeModel({ a_tokens: ["x"], b_tokens: ["y"], selected_feature: 3 });
    const a = prefixedModel(model, "a", ["selected_feature"]);
    expect(prefixedModel(model, "a", ["selected_feature"])).toBe(a); // one adapter per side
    expect(a.get("tokens")).toEqual(["x"]);
    expect(a.get("selected_feature")).toBe(3);
    const seen: string[] = [];
    const cb = () => seen.push("change");
    a.on("change:tokens", cb);
    model.kernelSet({ b_tokens: ["z"] });
    model.kernelSet({ a_tokens: ["w"] });
    expect(seen).toEqual(["change"]);
    a.off("change:tokens", cb);
    const msgs: unknown[] = [];
    const onMsg = (m: unknown) => msgs.push(m);
    a.on("msg:custom", onMsg);
    model.kernelSend({ type: "column", side: "b" });
    model.kernelSend({ type: "column", side: "a" });
    expect(msgs).toEqual([{ type: "column", side: "a" }]);
    a.off("msg:custom", onMsg);
    a.send({ type: "column", feature: 4 });
    expect(model.sentOfType("column")).toEqual([{ type: "column", feature: 4, side: "a" }]);
    expect(model.listenerCount()).toBe(0);
  });
});

describe("Compare view", () => {
  it("shows both texts coloured by one feature and the differences, marked by side", () => {
    const { el } = mountView(state());
    const side = (s: string) => el.querySelector(`[data-side=${s}]`)!;
    expect(side("a").querySelector('[data-token-index="1"]')!.getAttribute("data-h")).toBe("20");
    expect(side("b").querySelector('[data-token-index="1"]')!.getAttribute("data-h")).toBe("0");
    const rows = [...el.querySelectorAll<HTMLElement>("[data-role=diff-feature]")];
    expect(rows.map((r) => [r.dataset.featureId, r.dataset.moreIn])).toEqual([["10", "a"], ["20", "b"]]);
    expect(rows[0].getAttribute("aria-pressed")).toBe("true");
    expect(rows[1].textContent).toContain("Italy");
  });

  it("a click on a difference recolours both texts at once, in the browser", () => {
    const { model, el } = mountView(state());
    el.querySelector<HTMLElement>('[data-role=diff-feature][data-feature-id="20"]')!.click();
    expect(model.get("selected_feature")).toBe(20);
    const level = (s: string, i: number) => el.querySelector(`[data-side=${s}] [data-token-index="${i}"]`)!.getAttribute("data-h");
    expect(level("b", 1)).toBe("20");
    expect(level("a", 1)).toBe("0");
    el.querySelector<HTMLElement>('[data-role=diff-feature][data-feature-id="10"]')!.click();
    expect(level("a", 1)).toBe("20"); // 8 on a scale shared by both texts (top 8)
    expect(level("a", 2)).toBe("5"); // 2 of 8
    expect(model.sent).toEqual([]); // no kernel round trip
  });

  it("puts both texts on one scale, so equal colours mean equal activations", () => {
    const { model, el } = mountView(state({ selected_feature: 20 }));
    model.kernelSet({ a_columns: asDataView(new Float32Array([0, 0, 0, 0, 0, 3, 0, 0])) }); // 20 reaches 3 in A
    const legend = (s: string) => el.querySelector(`[data-side=${s}] .sw-legend`)!.textContent;
    expect(legend("a")).toContain("0 – 6");
    expect(el.querySelector('[data-side=a] [data-token-index="1"]')!.getAttribute("data-h")).toBe("10");
  });

  it("switches the ranking through the kernel", () => {
    const { model, el } = mountView(state());
    const select = el.querySelector<HTMLSelectElement>("[data-role=compare-by]")!;
    expect(select.value).toBe("max");
    select.value = "relative";
    select.dispatchEvent(new Event("change"));
    expect(model.saved.at(-1)).toEqual({ by: "relative" });
  });

  it("keeps each side's token selection apart", () => {
    const { model, el } = mountView(state());
    el.querySelector<HTMLElement>('[data-side=b] [data-token-index="2"]')!.click();
    expect(model.get("b_selected_token")).toBe(2);
    expect(model.get("a_selected_token")).toBeNull();
  });
});
