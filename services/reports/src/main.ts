import { runService } from "@kubeforge/service-kit";
import { reports, reportsEnv } from "./app";

runService(reports, reportsEnv);
