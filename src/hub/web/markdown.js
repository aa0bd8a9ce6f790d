/*
 * A deliberately small Markdown renderer for model cards: headings, paragraphs, lists (- * + and 1.),
 * fenced and indented code blocks, inline code, *emphasis* / _emphasis_ and **strong** / __strong__ (not inside
 * inline code). It builds DOM nodes and only ever sets text through textContent / createTextNode, never HTML, so no
 * card can inject markup or script. Everything else (links, images, raw HTML) is shown as the literal text.
 */
"use strict";
(function (global) {
  function inline(parent, text) {
    var parts = text.split(/(`[^`\n]+`)/);
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i];
      if (part === "") continue;
      if (part.length > 2 && part[0] === "`" && part[part.length - 1] === "`") {
        var code = document.createElement("code");
        code.textContent = part.slice(1, -1);
        parent.appendChild(code);
      } else {
        emphasis(parent, part);
      }
    }
  }

  // **strong** or __strong__, then *em* or _em_: the delimiters hug the text (`2 * 3 * 4` stays as it is), and an
  // underscore inside a word (snake_case) is not a delimiter.
  var EMPHASIS =
    /\*\*(?=\S)([\s\S]*?\S)\*\*|(?<!\w)__(?=\S)([\s\S]*?\S)__(?!\w)|\*([^\s*](?:[^*]*?[^\s*])?)\*|(?<!\w)_([^\s_](?:[^_]*?[^\s_])?)_(?!\w)/;

  function emphasis(parent, text) {
    var re = new RegExp(EMPHASIS.source, "g");
    var from = 0;
    var m;
    while ((m = re.exec(text)) !== null) {
      if (m.index > from) parent.appendChild(document.createTextNode(text.slice(from, m.index)));
      var strong = m[1] !== undefined ? m[1] : m[2];
      var node = document.createElement(strong !== undefined ? "strong" : "em");
      if (strong !== undefined) emphasis(node, strong);
      else node.textContent = m[3] !== undefined ? m[3] : m[4];
      parent.appendChild(node);
      from = re.lastIndex;
    }
    if (from < text.length) parent.appendChild(document.createTextNode(text.slice(from)));
  }

  function renderMarkdown(source) {
    var root = document.createDocumentFragment();
    var lines = String(source).replace(/\r\n?/g, "\n").split("\n");
    var i = 0;
    while (i < lines.length) {
      var line = lines[i];
      var fence = /^\s{0,3}(```+|~~~+)/.exec(line);
      if (fence) {
        var body = [];
        i++;
        while (i < lines.length && lines[i].trim().indexOf(fence[1]) !== 0) body.push(lines[i++]);
        i++;
        appendCode(root, body.join("\n"));
        continue;
      }
      var heading = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
      if (heading) {
        var h = document.createElement("h" + Math.min(6, heading[1].length + 1));
        inline(h, heading[2]);
        root.appendChild(h);
        i++;
        continue;
      }
      if (/^\s*$/.test(line)) {
        i++;
        continue;
      }
      var bullet = /^\s{0,3}([-*+]|\d{1,9}[.)])\s+/;
      var item = bullet.exec(line);
      if (item) {
        var ordered = /\d/.test(item[1]);
        var list = document.createElement(ordered ? "ol" : "ul");
        while (i < lines.length) {
          var m = bullet.exec(lines[i]);
          if (!m || /\d/.test(m[1]) !== ordered) break;
          var text = lines[i].slice(m[0].length);
          i++;
          while (i < lines.length && /^\s{2,}\S/.test(lines[i]) && !bullet.test(lines[i]))
            text += " " + lines[i++].trim();
          var li = document.createElement("li");
          inline(li, text);
          list.appendChild(li);
        }
        root.appendChild(list);
        continue;
      }
      if (/^( {4}|\t)/.test(line)) {
        var code = [];
        while (i < lines.length && (/^( {4}|\t)/.test(lines[i]) || /^\s*$/.test(lines[i])))
          code.push(lines[i++].replace(/^( {4}|\t)/, ""));
        appendCode(root, code.join("\n").replace(/\n+$/, ""));
        continue;
      }
      var para = [];
      while (
        i < lines.length &&
        !/^\s*$/.test(lines[i]) &&
        !/^\s{0,3}(#{1,6}\s|```|~~~)/.test(lines[i]) &&
        !bullet.test(lines[i])
      )
        para.push(lines[i++].trim());
      var p = document.createElement("p");
      inline(p, para.join(" "));
      root.appendChild(p);
    }
    return root;
  }

  function appendCode(root, text) {
    var pre = document.createElement("pre");
    var code = document.createElement("code");
    code.textContent = text;
    pre.appendChild(code);
    root.appendChild(pre);
  }

  global.renderMarkdown = renderMarkdown;
})(window);
