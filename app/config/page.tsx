import { ConfigView } from "@/components/config-view";
import { PageHeader } from "@/components/ui";

export const metadata = { title: "Configuration · Berth" };

export default function ConfigPage() {
  return (
    <>
      <PageHeader title="Configuration" subtitle="config.yml: validate, compare with what runs, apply" />
      <ConfigView />
    </>
  );
}
