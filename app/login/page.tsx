import { Suspense } from "react";
import { LoginForm } from "@/components/login-form";

export const metadata = { title: "Log in · Berth" };

export default function LoginPage() {
  return (
    <div className="mx-auto mt-16 max-w-sm">
      <h1 className="mb-6 text-2xl font-semibold">Log in to Berth</h1>
      <Suspense>
        <LoginForm />
      </Suspense>
    </div>
  );
}
