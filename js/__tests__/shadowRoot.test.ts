import { afterEach, describe, expect, it } from "vitest";
import { render } from "../render";
import { CSS } from "../styles";
import { FakeModel, eiffelState } from "./fakeModel";

afterEach(() => document.body.replaceChildren());

/** Hosts such as marimo render each widget inside a shadow root, which the document's stylesheet does not reach. */
describe("inside a shadow root", () => {
  function shadowHost(): ShadowRoot {
    const host = document.createElement("div");
    document.body.appendChild(host);
    return host.attachShadow({ mode: "open" });
  }

  it("puts its stylesheet into the shadow root as well as the document", () => {
    const shadow = shadowHost();
    const el = document.createElement("div");
    shadow.appendChild(el);
    const cleanup = render({ model: new FakeModel({ view: "heatmap", ...eiffelState() }), el });
    const styles = shadow.querySelectorAll("style[data-sw-style]");
    expect(styles.length).toBe(1);
    expect(styles[0].textContent).toBe(CSS);
    expect(document.getElementById("scope-widgets-style")).not.toBeNull();
    // a second widget in the same shadow root adds no second copy
    const el2 = document.createElement("div");
    shadow.appendChild(el2);
    render({ model: new FakeModel({ view: "heatmap", ...eiffelState() }), el: el2 });
    expect(shadow.querySelectorAll("style[data-sw-style]").length).toBe(1);
    cleanup();
  });

  it("styles an element the host attaches after render", async () => {
    const shadow = shadowHost();
    const el = document.createElement("div");
    const cleanup = render({ model: new FakeModel({ view: "heatmap", ...eiffelState() }), el });
    expect(shadow.querySelector("style[data-sw-style]")).toBeNull();
    shadow.appendChild(el);
    await new Promise((r) => requestAnimationFrame(() => r(null)));
    await new Promise((r) => requestAnimationFrame(() => r(null)));
    expect(shadow.querySelector("style[data-sw-style]")?.textContent).toBe(CSS);
    cleanup();
  });

  it("replaces an older bundle's copy", () => {
    const shadow = shadowHost();
    const old = document.createElement("style");
    old.setAttribute("data-sw-style", "scope-widgets-style");
    old.textContent = ".sw-root{}";
    shadow.appendChild(old);
    const el = document.createElement("div");
    shadow.appendChild(el);
    render({ model: new FakeModel({ view: "heatmap", ...eiffelState() }), el });
    const styles = shadow.querySelectorAll("style[data-sw-style]");
    expect(styles.length).toBe(1);
    expect(styles[0].textContent).toBe(CSS);
  });

  it("keeps a label being typed when the dashboard redraws (focus is read from the shadow root)", () => {
    const shadow = shadowHost();
    const el = document.createElement("div");
    shadow.appendChild(el);
    const dashboard = { feature: 7, status: "ok", label: "Paris", label_source: "auto", density: 0.01, max_activation: 10, can_label: true };
    const model = new FakeModel({ view: "dashboard", feature: 7, dashboard });
    render({ model, el });
    const input = shadow.querySelector<HTMLInputElement>('input[aria-label="Label for feature 7"]')!;
    input.focus();
    expect(shadow.activeElement).toBe(input);
    input.value = "the city of Par";
    model.kernelSet({ dashboard: { ...dashboard, density: 0.02 } }); // a redraw while typing
    expect(input.value).toBe("the city of Par");
  });
});
