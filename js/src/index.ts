// Entry point of the widget bundle. The Annotator's view is built in the widget issue;
// for now the bundle exports the shared pieces (RLE decoding) that it will use.
export { decodeCounts, decodeMask } from "./rle";
