/**
 * A small XML 1.0 well-formedness parser for the SVG tests (no dependency): one root element, matched tags, quoted
 * and unique attributes, no raw `<` or stray `&` in text or attribute values, only the predefined and numeric
 * entities. Throws on the first violation; returns the element tree with entities decoded.
 */
export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  /** The element's own text (not its children's), entities decoded. */
  text: string;
}

const NAME = /^[A-Za-z_:][-A-Za-z0-9_:.]*/;
const ENTITY = /&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);/y;

export function parseXml(source: string): XmlElement {
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`not well-formed XML at offset ${i}: ${why} (near ${JSON.stringify(source.slice(i, i + 40))})`);
  };
  const decode = (raw: string): string => {
    for (let j = raw.indexOf("&"); j !== -1; j = raw.indexOf("&", j + 1)) {
      ENTITY.lastIndex = j;
      if (!ENTITY.test(raw)) fail(`stray "&" in ${JSON.stringify(raw)}`);
    }
    if (raw.includes("<")) fail(`raw "<" in ${JSON.stringify(raw)}`);
    return raw.replace(/&(amp|lt|gt|quot|apos|#x[0-9a-fA-F]+|#[0-9]+);/g, (_, e: string) =>
      e === "amp"
        ? "&"
        : e === "lt"
          ? "<"
          : e === "gt"
            ? ">"
            : e === "quot"
              ? '"'
              : e === "apos"
                ? "'"
                : String.fromCodePoint(e.startsWith("#x") ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)),
    );
  };
  const skipMisc = () => {
    for (;;) {
      while (/\s/.test(source[i] ?? "")) i++;
      if (source.startsWith("<!--", i)) {
        const end = source.indexOf("-->", i);
        if (end === -1) fail("unterminated comment");
        i = end + 3;
      } else return;
    }
  };
  const element = (): XmlElement => {
    if (source[i] !== "<") fail('expected "<"');
    i++;
    const name = NAME.exec(source.slice(i))?.[0] ?? fail("expected a tag name");
    i += name.length;
    const attributes: Record<string, string> = {};
    for (;;) {
      const space = /^\s*/.exec(source.slice(i))![0].length;
      i += space;
      if (source.startsWith("/>", i)) {
        i += 2;
        return { name, attributes, children: [], text: "" };
      }
      if (source[i] === ">") {
        i++;
        break;
      }
      if (space === 0) fail("attributes must be separated by white space");
      const attr = NAME.exec(source.slice(i))?.[0] ?? fail("expected an attribute name");
      i += attr.length;
      if (Object.hasOwn(attributes, attr)) fail(`duplicate attribute ${attr}`);
      const m = /^\s*=\s*(["'])/.exec(source.slice(i)) ?? fail(`attribute ${attr} has no quoted value`);
      i += m[0].length;
      const end = source.indexOf(m[1]!, i);
      if (end === -1) fail(`attribute ${attr} is not closed`);
      attributes[attr] = decode(source.slice(i, end));
      i = end + 1;
    }
    const children: XmlElement[] = [];
    let text = "";
    for (;;) {
      const next = source.indexOf("<", i);
      if (next === -1) fail(`element ${name} is not closed`);
      text += decode(source.slice(i, next));
      i = next;
      if (source.startsWith("</", i)) {
        i += 2;
        const closing = NAME.exec(source.slice(i))?.[0];
        if (closing !== name) fail(`</${closing}> closes <${name}>`);
        i += name.length;
        while (/\s/.test(source[i] ?? "")) i++;
        if (source[i] !== ">") fail('expected ">"');
        i++;
        return { name, attributes, children, text };
      }
      if (source.startsWith("<!--", i)) {
        const end = source.indexOf("-->", i);
        if (end === -1) fail("unterminated comment");
        i = end + 3;
        continue;
      }
      if (source.startsWith("<?", i) || source.startsWith("<!", i)) fail("unexpected declaration inside an element");
      children.push(element());
    }
  };
  if (source.startsWith("<?xml")) {
    const end = source.indexOf("?>");
    if (end === -1) fail("unterminated XML declaration");
    i = end + 2;
  }
  skipMisc();
  const root = element();
  skipMisc();
  if (i !== source.length) fail("content after the root element");
  return root;
}

/** Every element under `root` (itself included) named `name`, in document order. */
export function findAll(root: XmlElement, name: string): XmlElement[] {
  return [...(root.name === name ? [root] : []), ...root.children.flatMap((c) => findAll(c, name))];
}
