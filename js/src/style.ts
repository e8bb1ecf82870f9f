// The widget's CSS, injected once per document and scoped to .vidlabel-annotator; colours
// come from JupyterLab's theme variables (Notebook 7 has them too), else VS Code's, else defaults.

const CSS = `
.vidlabel-annotator {
  --vl-bg: var(--jp-layout-color1, var(--vscode-editor-background, #fff));
  --vl-bg2: var(--jp-layout-color2, var(--vscode-input-background, #eee));
  --vl-fg: var(--jp-ui-font-color1, var(--vscode-editor-foreground, #222));
  --vl-fg2: var(--jp-ui-font-color2, var(--vscode-descriptionForeground, #666));
  --vl-border: var(--jp-border-color2, var(--vscode-panel-border, #ccc));
  --vl-accent: var(--jp-brand-color1, var(--vscode-focusBorder, #1976d2));
  --vl-danger: var(--jp-error-color1, var(--vscode-errorForeground, #d32f2f));
  position: relative; display: flex; flex-direction: column; gap: 6px;
  font-family: var(--jp-ui-font-family, system-ui, sans-serif); font-size: 12px;
  color: var(--vl-fg); background: var(--vl-bg); padding: 6px;
  border: 1px solid var(--vl-border); border-radius: 4px; outline: none; user-select: none;
}
.vidlabel-annotator:focus-visible, .vidlabel-annotator:focus { box-shadow: 0 0 0 2px var(--vl-accent); }
.vidlabel-annotator [hidden] { display: none !important; }
.vidlabel-annotator button, .vidlabel-annotator select, .vidlabel-annotator input {
  font: inherit; color: var(--vl-fg); background: var(--vl-bg2); border: 1px solid var(--vl-border);
  border-radius: 3px; padding: 2px 6px; min-height: 22px;
}
.vidlabel-annotator button { cursor: pointer; }
.vidlabel-annotator button:disabled { opacity: 0.45; cursor: default; }
.vidlabel-annotator button.vl-active { background: var(--vl-accent); color: #fff; border-color: var(--vl-accent); }
.vidlabel-annotator button.vl-confirm { background: var(--vl-danger); color: #fff; border-color: var(--vl-danger); }
.vidlabel-annotator input[type=range] { padding: 0; background: transparent; border: none; }
.vidlabel-annotator input[type=color] { padding: 0 2px; width: 30px; }
.vidlabel-annotator input[type=number] { width: 64px; }
.vl-toolbar, .vl-transport, .vl-form { display: flex; flex-wrap: wrap; align-items: center; gap: 4px; }
.vl-group { display: inline-flex; align-items: center; gap: 3px; padding-right: 6px; margin-right: 2px; border-right: 1px solid var(--vl-border); }
.vl-group:last-child { border-right: none; }
.vl-spacer { flex: 1; }
.vl-error { display: flex; align-items: center; gap: 8px; padding: 4px 8px; border-radius: 3px;
  background: var(--jp-error-color3, #fde0e0); color: var(--jp-error-color0, #8b0000); border: 1px solid var(--vl-danger); }
.vl-error span { flex: 1; white-space: pre-wrap; user-select: text; }
.vl-main { display: flex; gap: 6px; min-height: 0; }
.vl-stage { position: relative; flex: 1; min-width: 0; height: 360px; background: #111; border-radius: 3px; overflow: hidden; }
.vl-canvas { position: absolute; inset: 0; width: 100%; height: 100%; cursor: crosshair; touch-action: none; }
.vl-stage.vl-panning .vl-canvas { cursor: grabbing; }
.vl-loading-badge { position: absolute; right: 6px; top: 6px; padding: 1px 6px; border-radius: 3px; background: rgba(0,0,0,0.6); color: #fff; pointer-events: none; }
.vl-side { width: 210px; flex: none; display: flex; flex-direction: column; gap: 4px; overflow: auto; }
.vl-side-head { display: flex; align-items: center; justify-content: space-between; gap: 4px; font-weight: 600; }
.vl-entities { display: flex; flex-direction: column; gap: 2px; }
.vl-entity { display: flex; align-items: center; gap: 4px; padding: 2px 4px; border-radius: 3px; cursor: pointer; border: 1px solid transparent; }
.vl-entity:hover { background: var(--vl-bg2); }
.vl-entity.vl-selected { border-color: var(--vl-accent); background: var(--vl-bg2); }
.vl-entity.vl-is-hidden .vl-name { opacity: 0.45; text-decoration: line-through; }
.vl-entity .vl-key { color: var(--vl-fg2); width: 12px; text-align: right; }
.vl-entity .vl-name { flex: 1; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.vl-entity .vl-cat { color: var(--vl-fg2); }
.vl-entity input[type=color] { width: 22px; min-height: 18px; height: 18px; border: none; background: none; }
.vl-eye { min-height: 18px !important; padding: 0 4px !important; }
.vl-form { flex-direction: column; align-items: stretch; padding: 4px; border: 1px solid var(--vl-border); border-radius: 3px; }
.vl-form .vl-row { display: flex; gap: 4px; align-items: center; }
.vl-form input[type=text] { flex: 1; min-width: 0; }
.vl-erase-form { flex-direction: row; }
.vl-scrubber { flex: 1; min-width: 120px; }
.vl-play { min-width: 72px; }
.vl-frame-label { font-variant-numeric: tabular-nums; min-width: 70px; text-align: right; }
.vl-progress { width: 110px; }
.vl-status { color: var(--vl-fg2); }
.vl-find { margin-top: 0; margin-bottom: 0; }
.vidlabel-annotator .vl-find-text { width: 130px; }
.vl-find-off { opacity: 0.6; }
.vl-tracks { display: flex; gap: 6px; max-height: 160px; overflow-y: auto; }
.vl-track-labels { width: 120px; flex: none; display: flex; flex-direction: column; }
.vl-track-label { height: 14px; margin-bottom: 2px; line-height: 14px; overflow: hidden; white-space: nowrap; text-overflow: ellipsis; color: var(--vl-fg2); cursor: pointer; }
.vl-track-lanes { position: relative; flex: 1; min-width: 0; display: flex; flex-direction: column; }
.vl-track { display: block; width: 100%; height: 14px; margin-bottom: 2px; cursor: pointer; }
.vl-playhead { position: absolute; top: 0; bottom: 0; width: 0; border-left: 1px solid rgba(255,60,60,0.95); pointer-events: none; }
.vl-review-strip { display: block; width: 100%; height: 10px; margin-bottom: 4px; cursor: pointer; }
.vl-review-label { height: 10px; line-height: 10px; margin-bottom: 4px; font-size: 10px; }
.vl-review-count { margin-left: 8px; color: var(--vl-fg2); white-space: nowrap; }
.vl-review-reason { color: var(--vl-fg); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; min-width: 0; flex: 0 1 auto; }
.vl-track:focus-visible { outline: 1px solid var(--vl-accent); }
.vl-menu { position: absolute; z-index: 11; min-width: 190px; display: flex; flex-direction: column; padding: 3px;
  background: var(--vl-bg); border: 1px solid var(--vl-border); border-radius: 4px; box-shadow: 0 4px 16px rgba(0,0,0,0.35); }
.vidlabel-annotator .vl-menu-item { text-align: left; border: none; background: transparent; min-height: 22px; }
.vidlabel-annotator .vl-menu-item:not(:disabled):hover, .vidlabel-annotator .vl-menu-item:focus-visible { background: var(--vl-bg2); outline: none; }
.vl-menu-title { padding: 2px 6px; color: var(--vl-fg2); border-bottom: 1px solid var(--vl-border); margin-bottom: 2px; }
.vl-menu-relink-list { display: flex; flex-direction: column; padding-left: 10px; }
.vl-menu-entity { display: flex; align-items: center; gap: 2px; }
.vl-menu-entity .vl-menu-name { flex: 1; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.vidlabel-annotator .vl-menu-entity .vl-menu-item { border: 1px solid var(--vl-border); }
.vl-menu-delete:not(:disabled) { color: var(--vl-danger) !important; }
.vl-attrs { display: flex; flex-direction: column; gap: 3px; border-top: 1px solid var(--vl-border); padding-top: 4px; }
.vl-attrs-list { display: flex; flex-direction: column; gap: 2px; }
.vl-attr-row { display: flex; align-items: center; gap: 4px; }
.vl-attr-name { flex: 1; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.vl-attr-row input[type=text] { width: 90px; }
.vl-attrs-range { display: flex; align-items: center; gap: 3px; flex-wrap: wrap; }
.vidlabel-annotator .vl-attrs-range input[type=number] { width: 52px; }
.vl-help-overlay { position: absolute; inset: 6px; z-index: 10; overflow: auto; padding: 10px 14px; border-radius: 4px;
  background: var(--vl-bg); border: 1px solid var(--vl-border); box-shadow: 0 4px 16px rgba(0,0,0,0.35); }
.vl-help-overlay table { border-collapse: collapse; }
.vl-help-overlay td { padding: 2px 12px 2px 0; vertical-align: top; }
.vl-help-overlay td:first-child { white-space: nowrap; font-family: var(--jp-code-font-family, monospace); }
`;

const STYLE_ID = "vidlabel-annotator-style";

export function injectStyle(doc: Document): void {
  if (doc.getElementById(STYLE_ID)) return;
  const style = doc.createElement("style");
  style.id = STYLE_ID;
  style.textContent = CSS;
  doc.head.appendChild(style);
}
