/**
 * The one place report HTML is escaped. Report markup is built only with the `html`
 * tagged template: every interpolated value is escaped unless it is already SafeHtml
 * (produced by `html` itself), so text from a snapshot or a target (class names, strings,
 * property names, URLs, scenario names) cannot become markup by omission.
 */

/** Markup that is safe to insert as is. Only `html` and `trustedHtml` make one. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * Escapes text for HTML element content and quoted attribute values.
 * @example escapeHtml('<img onerror="x">') // '&lt;img onerror=&quot;x&quot;&gt;'
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** Values `html` accepts: text is escaped, SafeHtml kept, lists joined, nothing for null/undefined/false. */
export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

function part(v: HtmlValue): string {
  if (v instanceof SafeHtml) return v.value;
  if (Array.isArray(v)) return v.map(part).join('');
  if (v === null || v === undefined || v === false) return '';
  return escapeHtml(String(v));
}

/**
 * Tagged template for report markup; interpolations are escaped (attributes must be quoted).
 * @example html`<td title="${name}">${name}</td>` // name '<b>' gives &lt;b&gt; in both places
 */
export function html(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += part(values[i]!) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** Marks constant markup written in this code base (CSS, the inlined Chart.js) as safe. Never pass data. */
export function trustedHtml(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

/**
 * JSON for a `<script type="application/json">` element: `<`, `>`, `&` and U+2028/2029
 * become \u escapes, so no text can close the element or start a comment inside it,
 * and JSON.parse of the element's text gives back the value unchanged.
 * @example jsonForScript({ name: '</script>' }) // '{"name":"\\u003c/script\\u003e"}'
 */
export function jsonForScript(value: unknown): SafeHtml {
  const json = JSON.stringify(value) ?? 'null';
  return new SafeHtml(json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

/**
 * Makes third-party script text safe to inline in a <script> element (a literal `</script`
 * or `<!--` inside a string would end or confuse the element); `<\/` means the same in JS.
 */
export function inlineScriptText(source: string): SafeHtml {
  return new SafeHtml(source.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--'));
}
