import { html, render } from "lit-html";
import type { Party } from "../types";

export async function bankPage(main: HTMLElement, me: Party): Promise<void> {
  render(html`<h1>Bank</h1><p>${me.address}</p>`, main);
}
