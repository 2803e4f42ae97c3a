import { Controller, Get, Header, Res } from '@nestjs/common';
import type { Response } from 'express';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultPluginRoot } from './plugin-loader';

/**
 * The console's files, read from the repository's `sandbox/host/console/` whether the host runs from source or
 * from `dist/`: tsc copies no HTML or CSS, and the package's `files` ship neither, so the source folder is the
 * one place they live.
 */
export const CONSOLE_DIR = path.join(defaultPluginRoot(), 'sandbox', 'host', 'console');

interface ConsolePage {
  html: string;
  css: string;
  contentSecurityPolicy: string;
}

/**
 * The page keeps its script inline (one file, no build step, nothing for the type-aware linter to mistake for
 * project code), so the policy allows exactly that script by its hash and nothing else: a revealed key on
 * this page can only go back to this origin.
 */
function loadConsolePage(dir: string): ConsolePage {
  const html = fs.readFileSync(path.join(dir, 'index.html'), 'utf8');
  const css = fs.readFileSync(path.join(dir, 'console.css'), 'utf8');
  const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map(
    ([, body]) => `'sha256-${createHash('sha256').update(body).digest('base64')}'`,
  );
  const contentSecurityPolicy = [
    "default-src 'none'",
    `script-src ${scripts.join(' ') || "'none'"}`,
    "style-src 'self'",
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { html, css, contentSecurityPolicy };
}

/**
 * `GET /`: the reference host's console (host contract §6) — one page that drives the plugin's `/esd/*` routes
 * and the host's `/host/*` routes with `fetch`, as whichever principal the visitor picks. It holds no state of
 * its own and needs no principal: every call it makes is authorised on its own by the route it reaches.
 */
@Controller()
export class ConsoleController {
  private readonly page = loadConsolePage(CONSOLE_DIR);

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  @Header('X-Content-Type-Options', 'nosniff')
  @Header('Referrer-Policy', 'no-referrer')
  index(@Res({ passthrough: true }) response: Response): string {
    // Set here rather than by decorator: the script's hash is known only once the file is read.
    response.setHeader('Content-Security-Policy', this.page.contentSecurityPolicy);
    return this.page.html;
  }

  @Get('console/console.css')
  @Header('Content-Type', 'text/css; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  @Header('X-Content-Type-Options', 'nosniff')
  stylesheet(): string {
    return this.page.css;
  }
}
