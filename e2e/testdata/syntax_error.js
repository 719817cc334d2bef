// A script k6 cannot parse: k6 exits with its script-error code (107).
export default function () {
  let x = ;
}
