#!/usr/bin/env node
import { build, ensureDependencies } from "./prepare.mjs";

ensureDependencies();
build();
