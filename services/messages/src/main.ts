import { runService } from "@kubeforge/service-kit";
import { messages, messagesEnv } from "./app";

runService(messages, messagesEnv);
