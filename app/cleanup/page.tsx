import { CleanupView } from "@/components/cleanup-view";
import { PageHeader } from "@/components/ui";

export const metadata = { title: "Cleanup · Berth" };

export default function CleanupPage() {
  return (
    <>
      <PageHeader title="Cleanup" subtitle="Retention rules: preview what they delete, then apply" />
      <CleanupView />
    </>
  );
}
