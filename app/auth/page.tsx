import { AuthView } from "@/components/auth-view";
import { PageHeader } from "@/components/ui";

export const metadata = { title: "Auth · Berth" };

export default function AuthPage() {
  return (
    <>
      <PageHeader title="Registry auth" subtitle="The etcd token-auth switch and the built-in token server" />
      <AuthView />
    </>
  );
}
