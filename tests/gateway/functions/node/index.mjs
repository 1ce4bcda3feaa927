// The Node handler behind the function routes of tests/gateway/
// test_function_routes.py, run by aws-lambda-ric (nodejs20.x). It answers
// by route: the event itself (structured), a bare object, a string, a
// failure, or nothing for longer than the function's timeout.
export const handler = async (event) => {
  switch (event.routeKey) {
    case "GET /bare":
      return { hello: "world", amount: 12.5 };
    case "GET /text":
      return "plain string";
    case "GET /throws":
      throw new Error("handler failed on purpose");
    case "GET /slow":
      await new Promise((resolve) => setTimeout(resolve, 10000));
      return { late: true };
    case "GET /slow-route":
      await new Promise((resolve) => setTimeout(resolve, 3000));
      return { late: true };
    default:
      return {
        statusCode: 200,
        headers: { "content-type": "application/json", "x-handler": "node" },
        cookies: ["session=abc; HttpOnly", "theme=dark"],
        body: JSON.stringify({ event }),
      };
  }
};
