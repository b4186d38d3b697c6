"use client";

import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { yaml } from "@codemirror/lang-yaml";
import { bracketMatching, HighlightStyle, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { lintGutter, setDiagnostics, type Diagnostic } from "@codemirror/lint";
import { EditorSelection, EditorState, type Text } from "@codemirror/state";
import { drawSelection, EditorView, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers } from "@codemirror/view";
import { tags } from "@lezer/highlight";
import { forwardRef, useEffect, useImperativeHandle, useRef } from "react";

export interface EditorProblem {
  line?: number;
  column?: number;
  message: string;
  severity: "error" | "warning";
}

export interface ConfigEditorHandle {
  /** Moves the cursor to a line (1-based) and focuses the editor. */
  goTo(line: number, column?: number): void;
}

/** Colours from CSS variables (globals.css), so the editor follows the light/dark theme. */
const highlight = HighlightStyle.define([
  { tag: [tags.propertyName, tags.definition(tags.propertyName)], color: "var(--cm-key)" },
  { tag: [tags.string, tags.special(tags.string), tags.content], color: "var(--cm-string)" },
  { tag: [tags.number, tags.integer, tags.float], color: "var(--cm-number)" },
  { tag: [tags.bool, tags.null, tags.atom, tags.keyword], color: "var(--cm-bool)" },
  { tag: [tags.comment, tags.lineComment, tags.blockComment], color: "var(--cm-comment)", fontStyle: "italic" },
  { tag: [tags.punctuation, tags.separator, tags.squareBracket, tags.brace, tags.operator], color: "var(--cm-punct)" },
  { tag: [tags.labelName, tags.typeName, tags.meta], color: "var(--cm-bool)" },
]);

const theme = EditorView.theme({
  "&": { backgroundColor: "var(--cm-bg)", color: "var(--cm-fg)", fontSize: "13px", height: "100%" },
  ".cm-content": { fontFamily: "var(--font-mono)", caretColor: "var(--cm-cursor)" },
  ".cm-scroller": { fontFamily: "var(--font-mono)", lineHeight: "1.55" },
  ".cm-gutters": { backgroundColor: "var(--cm-gutter-bg)", color: "var(--cm-gutter-fg)", borderRight: "1px solid var(--cm-active-line)" },
  ".cm-activeLine": { backgroundColor: "var(--cm-active-line)" },
  ".cm-activeLineGutter": { backgroundColor: "var(--cm-active-line)" },
  "&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection": { backgroundColor: "var(--cm-selection) !important" },
  ".cm-cursor, .cm-dropCursor": { borderLeftColor: "var(--cm-cursor)" },
  "&.cm-focused": { outline: "2px solid rgb(14 165 233 / 0.6)" },
  ".cm-tooltip": { backgroundColor: "var(--cm-bg)", color: "var(--cm-fg)", border: "1px solid var(--cm-gutter-fg)" },
});

/** Problems (1-based line/column) as CodeMirror diagnostics: from the column to the end of the line. */
function toDiagnostics(doc: Text, problems: EditorProblem[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const problem of problems) {
    if (problem.line === undefined) continue;
    const line = doc.line(Math.max(1, Math.min(problem.line, doc.lines)));
    const column = Math.max(1, problem.column ?? 1);
    let from = Math.min(line.to, line.from + column - 1);
    if (from === line.to) from = line.from;
    out.push({ from, to: Math.max(from, line.to), severity: problem.severity, message: problem.message });
  }
  return out;
}

/**
 * config.yml in CodeMirror 6: YAML highlighting, line numbers, undo history, problems marked at
 * their lines (gutter + underline + hover). Tab indents; Escape then Tab leaves the editor.
 */
export const ConfigEditor = forwardRef<
  ConfigEditorHandle,
  { value: string; onChange: (value: string) => void; problems: EditorProblem[]; readOnly?: boolean; label: string }
>(function ConfigEditor({ value, onChange, problems, readOnly = false, label }, ref) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const onChangeRef = useRef(onChange);
  useEffect(() => {
    onChangeRef.current = onChange;
  }, [onChange]);

  useEffect(() => {
    if (!host.current) return;
    const editor = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: value,
        extensions: [
          lineNumbers(),
          highlightActiveLineGutter(),
          history(),
          drawSelection(),
          indentOnInput(),
          bracketMatching(),
          highlightActiveLine(),
          yaml(),
          syntaxHighlighting(highlight),
          lintGutter(),
          keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
          EditorState.tabSize.of(2),
          EditorState.readOnly.of(readOnly),
          EditorView.editable.of(!readOnly),
          EditorView.contentAttributes.of({ "aria-label": label }),
          theme,
          EditorView.updateListener.of((update) => {
            if (update.docChanged) onChangeRef.current(update.state.doc.toString());
          }),
        ],
      }),
    });
    view.current = editor;
    return () => {
      editor.destroy();
      view.current = null;
    };
    // The editor is created once; `value` changes from outside are pushed in below.
  }, [readOnly, label]);

  useEffect(() => {
    const editor = view.current;
    if (!editor) return;
    const current = editor.state.doc.toString();
    if (current !== value) editor.dispatch({ changes: { from: 0, to: current.length, insert: value } });
  }, [value]);

  useEffect(() => {
    const editor = view.current;
    if (!editor) return;
    editor.dispatch(setDiagnostics(editor.state, toDiagnostics(editor.state.doc, problems)));
  }, [problems]);

  useImperativeHandle(ref, () => ({
    goTo(line, column = 1) {
      const editor = view.current;
      if (!editor) return;
      const target = editor.state.doc.line(Math.max(1, Math.min(line, editor.state.doc.lines)));
      const position = Math.min(target.to, target.from + column - 1);
      editor.dispatch({ selection: EditorSelection.cursor(position), effects: EditorView.scrollIntoView(position, { y: "center" }) });
      editor.focus();
    },
  }));

  return <div ref={host} className="h-[32rem] overflow-hidden rounded border border-slate-300 dark:border-slate-700 [&_.cm-editor]:h-full" data-testid="config-editor" />;
});
