import { ActivityView } from "@/components/activity-view";
import { PageHeader } from "@/components/ui";

export const metadata = { title: "Activity · Berth" };

export default function ActivityPage() {
  return (
    <>
      <PageHeader title="Activity" subtitle="Who did what: pushes, deletes, garbage collection, configuration, auth" />
      <ActivityView />
    </>
  );
}
