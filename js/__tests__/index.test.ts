import { afterEach, describe, expect, it } from "vitest";
import widget from "../index";
import { render } from "../render";
import { FakeModel, eiffelState } from "./fakeModel";

afterEach(() => document.body.replaceChildren());

describe("entry point", () => {
  it("exports anywidget's render and initialize", () => {
    expect(typeof widget.render).toBe("function");
    expect(typeof widget.initialize).toBe("function");
  });

  it.each(["heatmap", "features", "dashboard", "steering", "explorer"])("renders the %s view under a shortcut-suppressing root", (view) => {
    const model = new FakeModel({ view, ...eiffelState(), coefficients: {}, steering: {}, dashboard: {} });
    const el = document.createElement("div");
    document.body.appendChild(el);
    const cleanup = render({ model, el });
    const root = el.querySelector(".sw-root")!;
    expect(root.hasAttribute("data-lm-suppress-shortcuts")).toBe(true);
    expect(root.querySelector(".sw-error")).toBeNull();
    cleanup();
    expect(el.children.length).toBe(0);
  });

  it("reports an unknown view inside the widget", () => {
    const model = new FakeModel({ view: "nope" });
    const el = document.createElement("div");
    render({ model, el });
    expect(el.querySelector('[role="alert"]')!.textContent).toContain('unknown view "nope"');
  });

  it("injects its stylesheet once", () => {
    for (let i = 0; i < 3; i++) render({ model: new FakeModel({ view: "heatmap", ...eiffelState() }), el: document.createElement("div") });
    expect(document.querySelectorAll("#scope-widgets-style").length).toBe(1);
  });

  it("follows the host theme", async () => {
    const model = new FakeModel({ view: "heatmap", ...eiffelState() });
    const el = document.createElement("div");
    document.body.appendChild(el);
    document.body.setAttribute("data-jp-theme-light", "false");
    render({ model, el });
    const root = el.querySelector(".sw-root")!;
    expect(root.classList.contains("sw-dark")).toBe(true);
    document.body.setAttribute("data-jp-theme-light", "true");
    await new Promise((r) => setTimeout(r, 0));
    expect(root.classList.contains("sw-dark")).toBe(false);
    document.body.removeAttribute("data-jp-theme-light");
  });
});
