import { runService } from "@kubeforge/service-kit";
import { backend, backendEnv } from "./app";

runService(backend, backendEnv);
