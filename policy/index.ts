// The kubeforge policy pack. Only assembles the pack: each policy lives in policies/<name>.ts.
// Do not import this module from tests or tools: constructing a PolicyPack starts its gRPC server.
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

new PolicyPack("kubeforge", { policies });
