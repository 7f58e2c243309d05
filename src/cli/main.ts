#!/usr/bin/env node
import { main } from "./app.ts";

process.exitCode = main(process.argv.slice(2));
