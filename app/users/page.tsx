import { PageHeader } from "@/components/ui";
import { UsersView } from "@/components/users-view";

export const metadata = { title: "Users · Berth" };

export default function UsersPage() {
  return (
    <>
      <PageHeader title="Users" subtitle="Who may use this console, and what each may do" />
      <UsersView />
    </>
  );
}
