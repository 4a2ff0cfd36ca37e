/**
 * The built-in stage kinds, registered in the order `vigil stages` lists them. Adding a stage is
 * one file under this folder plus one line here.
 */
import './detect.js';
import './recognize.js';
import './alert.js';
import './style.js';
import './redact.js';
import './annotate.js';
import './encode.js';
